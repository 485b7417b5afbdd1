/**
 * Paging through `GET /v1/kv` by prefix. The API pages forward only, with an opaque cursor per page; going back
 * is going to a cursor seen before, so the state keeps the cursor of every page opened so far.
 */
export interface PagingState {
  prefix: string;
  /** `cursors[i]` opens page i (`null`: the first page). */
  cursors: Array<string | null>;
  /** The page shown (0-based). */
  index: number;
  /** The cursor of the page after the one shown; `null` when it is the last. Unknown (`undefined`) while loading. */
  next: string | null | undefined;
}

export function firstPage(prefix: string): PagingState {
  return { prefix, cursors: [null], index: 0, next: undefined };
}

/** The cursor to load the shown page with. */
export function currentCursor(state: PagingState): string | null {
  return state.cursors[state.index] ?? null;
}

/** The shown page arrived, and with it the cursor of the next one. */
export function pageLoaded(state: PagingState, next: string | null): PagingState {
  return { ...state, next };
}

export function hasNext(state: PagingState): boolean {
  return typeof state.next === 'string';
}

export function hasPrevious(state: PagingState): boolean {
  return state.index > 0;
}

/** The next page; the same state when there is none. Pages after the shown one are forgotten (keys change). */
export function nextPage(state: PagingState): PagingState {
  if (typeof state.next !== 'string') return state;
  const cursors = [...state.cursors.slice(0, state.index + 1), state.next];
  return { ...state, cursors, index: state.index + 1, next: undefined };
}

export function previousPage(state: PagingState): PagingState {
  if (state.index === 0) return state;
  return { ...state, index: state.index - 1, next: undefined };
}

/** `Page 2`, or `Page 2 of 2` once the last page is known. */
export function pageLabel(state: PagingState): string {
  const last = state.next === null ? ` of ${state.index + 1}` : '';
  return `Page ${state.index + 1}${last}`;
}
