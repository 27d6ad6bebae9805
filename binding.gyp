# node-gyp build: the source-build fallback of `npm install` and what prebuildify drives.
# Sources come from native/sources.json, the list CMakeLists.txt reads too. Each ISA
# level is its own static library compiled with that level's flags and nothing else.
{
  "target_defaults": {
    "include_dirs": ["native/src", "native"],
    "cflags": ["-fPIC", "-ffp-contract=off", "-fno-math-errno", "-Wall", "-Wextra", "-Wno-unused-parameter"],
    "cflags_cc": ["-std=c++17", "-fexceptions"],
    "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=gnu++20"],
    "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_API_NO_EXTERNAL_BUFFERS_ALLOWED"],
    "xcode_settings": {
      "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
      "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
      "MACOSX_DEPLOYMENT_TARGET": "11.0",
      "OTHER_CFLAGS": ["-ffp-contract=off"]
    },
    "msvs_settings": {
      "VCCLCompilerTool": {"ExceptionHandling": 1, "AdditionalOptions": ["/std:c++17", "/fp:precise"]}
    }
  },
  "targets": [
    {
      "target_name": "qk_core",
      "type": "static_library",
      "sources": [
        "<!@(node scripts/sources.js core)",
        "<!@(node scripts/sources.js isa scalar)"
      ]
    },
    {
      "target_name": "qk_isa_avx2",
      "type": "static_library",
      "conditions": [
        ["target_arch in ('x64', 'ia32')", {
          "sources": ["<!@(node scripts/sources.js isa avx2)"],
          "cflags": ["<!@(node scripts/sources.js flags gcc avx2)"],
          "xcode_settings": {"OTHER_CFLAGS": ["-ffp-contract=off", "<!@(node scripts/sources.js flags gcc avx2)"]},
          "msvs_settings": {"VCCLCompilerTool": {"AdditionalOptions": ["/std:c++17", "/fp:precise", "/arch:AVX2"]}}
        }]
      ]
    },
    {
      "target_name": "qk_isa_avx512vnni",
      "type": "static_library",
      "conditions": [
        ["target_arch in ('x64', 'ia32')", {
          "sources": ["<!@(node scripts/sources.js isa avx512vnni)"],
          "cflags": ["<!@(node scripts/sources.js flags gcc avx512vnni)"],
          "xcode_settings": {"OTHER_CFLAGS": ["-ffp-contract=off", "<!@(node scripts/sources.js flags gcc avx512vnni)"]},
          "msvs_settings": {"VCCLCompilerTool": {"AdditionalOptions": ["/std:c++17", "/fp:precise", "/arch:AVX512"]}}
        }]
      ]
    },
    {
      "target_name": "qk_isa_neon",
      "type": "static_library",
      "conditions": [
        ["target_arch == 'arm64'", {
          "sources": ["<!@(node scripts/sources.js isa neon)"]
        }]
      ]
    },
    {
      "target_name": "qk_isa_neondot",
      "type": "static_library",
      "conditions": [
        ["target_arch == 'arm64'", {
          "sources": ["<!@(node scripts/sources.js isa neondot)"],
          "cflags": ["<!@(node scripts/sources.js flags gcc neondot)"],
          "xcode_settings": {"OTHER_CFLAGS": ["-ffp-contract=off", "<!@(node scripts/sources.js flags gcc neondot)"]}
        }]
      ]
    },
    {
      "target_name": "qkernels",
      "sources": ["<!@(node scripts/sources.js addon)"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "dependencies": ["qk_core", "qk_isa_avx2", "qk_isa_avx512vnni", "qk_isa_neon", "qk_isa_neondot"],
      "conditions": [
        ["OS == 'linux'", {"libraries": ["-lpthread"]}]
      ]
    }
  ]
}
