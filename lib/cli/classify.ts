// `qkernels classify --arch mobilenet_v2 --weights FILE IMAGE...`: top-k classes of images with a torchvision quantized architecture and a PyTorch weights file.

import { readFileSync } from 'fs';

import { decodeImage } from '../image/decode';
import { classificationTransform, stack } from '../image/transforms';
import { loadArchiveAsync } from '../io/load';
import { architectures } from '../models';
import { calibrate, loadOutputQParams, uncalibratedModules } from '../observers/calibrate';
import type { Tensor } from '../tensor';
import type { Command, CommandIO } from './index';
import * as validate from '../validate';

const USAGE = 'classify --arch NAME --weights FILE [--top K] [--resize N] [--crop N] [--labels FILE] [--calibrate] IMAGE...';

interface ClassifyArgs {
  arch: string;
  weights: string;
  top: number;
  resize: number | undefined;
  crop: number | undefined;
  labels: string | undefined;
  calibrate: boolean;
  images: string[];
}

function positiveInteger(flag: string, text: string | undefined): number {
  const value = Number(text);
  if (text === undefined || !Number.isInteger(value) || value < 1) throw new RangeError(validate.expected('a positive integer', flag, String(text)));
  return value;
}

function parseArgs(args: readonly string[]): ClassifyArgs {
  const parsed: Partial<ClassifyArgs> = { top: 5, calibrate: false, images: [] };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const value = () => {
      if (i + 1 >= args.length) throw new RangeError(`${arg} needs a value`);
      return args[++i];
    };
    if (arg === '--arch') parsed.arch = value();
    else if (arg === '--weights') parsed.weights = value();
    else if (arg === '--top') parsed.top = positiveInteger(arg, value());
    else if (arg === '--resize') parsed.resize = positiveInteger(arg, value());
    else if (arg === '--crop') parsed.crop = positiveInteger(arg, value());
    else if (arg === '--labels') parsed.labels = value();
    else if (arg === '--calibrate') parsed.calibrate = true;
    else if (arg.startsWith('--')) throw new RangeError(`unknown option ${arg}`);
    else parsed.images!.push(arg);
  }
  if (parsed.arch === undefined) throw new RangeError(`--arch is required (one of ${Object.keys(architectures).join(', ')})`);
  if (!Object.prototype.hasOwnProperty.call(architectures, parsed.arch)) {
    throw new RangeError(`unknown --arch ${parsed.arch} (one of ${Object.keys(architectures).join(', ')})`);
  }
  if (parsed.weights === undefined) throw new RangeError('--weights FILE is required (torch.save of the quantized state_dict, or torch.jit.save)');
  if (parsed.images!.length === 0) throw new RangeError('no IMAGE given');
  return parsed as ClassifyArgs;
}

/** Class names from a JSON array or a text file of one name per line. */
function readLabels(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const trimmed = text.trim();
  if (trimmed.startsWith('[')) return (JSON.parse(trimmed) as unknown[]).map(String);
  return trimmed.split(/\r?\n/);
}

async function classify(args: ClassifyArgs, io: CommandIO): Promise<number> {
  const model = architectures[args.arch]();
  const archive = await loadArchiveAsync(args.weights);
  model.loadStateDict(archive.stateDict);
  loadOutputQParams(model, archive.attributes);
  // torchvision's presets: inception_v3 resizes to 342 and crops 299, the others 256 and 224.
  const crop = args.crop ?? (args.arch === 'inception_v3' ? 299 : 224);
  const resize = args.resize ?? (args.arch === 'inception_v3' ? 342 : 256);
  const inputs: Tensor[] = [];
  for (const file of args.images) inputs.push(classificationTransform(await decodeImage(file), { resizeSize: resize, cropSize: crop }));
  const batch = stack(inputs);
  const missing = uncalibratedModules(model);
  if (missing.length > 0) {
    if (!args.calibrate) {
      io.stderr(`qkernels classify: ${args.weights} is a state dict without the output qparams of ${missing.length} module(s) (${missing[0][0]}, ...): ` +
        'pass a TorchScript archive (torch.jit.save), or --calibrate to calibrate them on the given images');
      return 1;
    }
    calibrate(model, batch);
  }
  const labels = args.labels === undefined ? null : readLabels(args.labels);
  const started = process.hrtime.bigint();
  const logits = ((await model.forwardAsync(batch)) as Tensor).contiguous();
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const classes = logits.shape[1];
  args.images.forEach((file, n) => {
    const row = logits.data.subarray(n * classes, (n + 1) * classes);
    const order = Array.from(row.keys()).sort((a, b) => row[b] - row[a] || a - b).slice(0, args.top);
    io.stdout(file);
    for (const k of order) io.stdout(`  ${row[k].toFixed(4).padStart(9)}  ${String(k).padStart(4)}${labels === null ? '' : ` ${labels[k] ?? ''}`}`);
  });
  io.stderr(`${args.arch}: ${args.images.length} image(s) at ${crop}x${crop} in ${ms.toFixed(1)} ms (${(ms / args.images.length).toFixed(1)} ms per image)`);
  return 0;
}

export const classifyCommand: Command = {
  usage: USAGE,
  summary: 'top-k classes of images with a torchvision quantized architecture (models.quantization) and a PyTorch weights file',
  async run(args: readonly string[], io: CommandIO): Promise<number> {
    let parsed: ClassifyArgs;
    try {
      parsed = parseArgs(args);
    } catch (error) {
      io.stderr(`qkernels classify: ${(error as Error).message}`);
      io.stderr(`usage: qkernels ${USAGE}`);
      return 2;
    }
    try {
      return await classify(parsed, io);
    } catch (error) {
      io.stderr(`qkernels classify: ${(error as Error).message}`);
      return 1;
    }
  },
};
