/** An RFC 9457 problem document, as every keyflow error answer carries (`application/problem+json`). */
export interface ProblemDocument {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  [extension: string]: unknown;
}

/** An answer of keyflow that is an error: its problem document, typed. */
export class KeyflowProblem extends Error {
  readonly status: number;
  readonly type: string;
  readonly title: string;
  readonly detail: string | undefined;

  constructor(
    readonly problem: ProblemDocument,
    readonly response?: Response,
  ) {
    super(`${problem.status} ${problem.title}${problem.detail ? `: ${problem.detail}` : ''}`);
    this.name = KeyflowProblem.name;
    this.status = problem.status;
    this.type = problem.type;
    this.title = problem.title;
    this.detail = problem.detail;
  }
}

/** A problem document out of an error answer's body; one made up from the status when the body is not one. */
export function toProblem(status: number, statusText: string, body: unknown): ProblemDocument {
  if (typeof body === 'object' && body !== null && typeof (body as { status?: unknown }).status === 'number') {
    const p = body as Partial<ProblemDocument>;
    return { ...p, type: p.type ?? 'about:blank', title: p.title ?? statusText, status: p.status ?? status };
  }
  return { type: 'about:blank', title: statusText || `HTTP ${status}`, status };
}
