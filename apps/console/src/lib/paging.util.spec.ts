import { describe, expect, it } from 'vitest';
import {
  currentCursor,
  firstPage,
  hasNext,
  hasPrevious,
  nextPage,
  pageLabel,
  pageLoaded,
  previousPage,
} from './paging.util';

describe('paging.util', () => {
  it('should start on the first page with no cursor and no way back', () => {
    const s = firstPage('user:');
    expect(currentCursor(s)).toBeNull();
    expect(hasPrevious(s)).toBe(false);
    expect(hasNext(s)).toBe(false);
    expect(pageLabel(s)).toBe('Page 1');
  });

  it('should go forward with each page’s cursor and back to cursors seen before', () => {
    let s = pageLoaded(firstPage('user:'), 'c1');
    expect(hasNext(s)).toBe(true);
    s = nextPage(s);
    expect(currentCursor(s)).toBe('c1');
    s = pageLoaded(s, 'c2');
    s = pageLoaded(nextPage(s), null);
    expect(currentCursor(s)).toBe('c2');
    expect(pageLabel(s)).toBe('Page 3 of 3');
    expect(hasNext(s)).toBe(false);
    expect(nextPage(s)).toBe(s);
    s = previousPage(s);
    expect(currentCursor(s)).toBe('c1');
    expect(pageLabel(s)).toBe('Page 2');
    s = previousPage(previousPage(s));
    expect(currentCursor(s)).toBeNull();
    expect(hasPrevious(s)).toBe(false);
  });

  it('should forget pages after the shown one when it moves forward from an earlier page', () => {
    let s = nextPage(pageLoaded(firstPage('a'), 'c1'));
    s = nextPage(pageLoaded(s, 'c2'));
    s = previousPage(previousPage(s));
    s = nextPage(pageLoaded(s, 'c1-new'));
    expect(s.cursors).toEqual([null, 'c1-new']);
  });
});
