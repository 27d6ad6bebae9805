// The `qkernels` command line (bin/qkernels.js): one table of subcommands, each in its own file of lib/cli/.

import { classifyCommand } from './classify';
import { inspectCommand } from './inspect';

/** Where a command writes: one call per line (tests capture them). */
export interface CommandIO {
  stdout(line: string): void;
  stderr(line: string): void;
}

/** A subcommand: `run` gets the arguments after its name and returns the exit status. */
export interface Command {
  readonly usage: string;
  readonly summary: string;
  run(args: readonly string[], io: CommandIO): number | Promise<number>;
}

/** The subcommands by name: adding one is one import and one line here. */
export const COMMANDS: Readonly<Record<string, Command>> = {
  inspect: inspectCommand,
  classify: classifyCommand,
};

function help(): string[] {
  return ['usage: qkernels COMMAND [ARGS]', '', 'commands:', ...Object.values(COMMANDS).map((command) => `  ${command.usage.padEnd(40)} ${command.summary}`)];
}

const consoleIO: CommandIO = {
  stdout: (line) => process.stdout.write(`${line}\n`),
  stderr: (line) => process.stderr.write(`${line}\n`),
};

/** Runs `qkernels ARGS...`; resolves to the exit status. */
export async function main(argv: readonly string[], io: CommandIO = consoleIO): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    for (const line of help()) (name === undefined ? io.stderr : io.stdout)(line);
    return name === undefined ? 2 : 0;
  }
  const command = Object.prototype.hasOwnProperty.call(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (command === undefined) {
    io.stderr(`qkernels: unknown command '${name}'`);
    for (const line of help()) io.stderr(line);
    return 2;
  }
  return command.run(args, io);
}
