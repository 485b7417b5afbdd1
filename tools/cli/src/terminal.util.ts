import { createInterface } from 'node:readline';

/** The terminal as commands use it: stdin, and questions to the person at the keyboard. */
export interface Terminal {
  stdinIsTty: boolean;
  readStdin(): Promise<string>;
  /** Asks on stderr and reads one line; `hidden` does not echo what is typed (a password). */
  prompt(question: string, options?: { hidden?: boolean }): Promise<string>;
}

export const processTerminal: Terminal = {
  stdinIsTty: process.stdin.isTTY === true,
  async readStdin(): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  },
  prompt(question, { hidden = false } = {}): Promise<string> {
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
    if (hidden) {
      // Echo nothing of the answer: readline writes what is typed through this method.
      const writer = rl as unknown as { _writeToOutput: (text: string) => void };
      writer._writeToOutput = (text: string) => {
        if (text.includes(question)) process.stderr.write(question);
      };
    }
    return new Promise((resolve) => {
      rl.question(question, (answer) => {
        rl.close();
        if (hidden) process.stderr.write('\n');
        resolve(answer);
      });
    });
  },
};
