/**
 * The static token comparison must not short-circuit on length: a wrong-length guess has to take the same
 * constant-time path as a right-length one, or response timing tells an attacker the token's length.
 */
import { describe, expect, it, vi } from 'vitest';

const compared = vi.hoisted(() => [] as Array<[number, number]>);

vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:crypto')>();
  return {
    ...actual,
    timingSafeEqual: (a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView): boolean => {
      compared.push([a.byteLength, b.byteLength]);
      return actual.timingSafeEqual(a, b);
    },
  };
});

const { createAuthenticator } = await import('../../../src/serve/auth.js');

describe('static token comparison', () => {
  it('runs the constant-time comparison on equal-length inputs whatever the guess’s length', async () => {
    const auth = await createAuthenticator({ token: 'the-real-token-0123456789' });
    for (const guess of ['x', 'the-real-token-012345678', 'the-real-token-0123456789-and-more', 'y'.repeat(4000)]) {
      compared.length = 0;
      await expect(auth.authenticate(`Bearer ${guess}`, null)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
      expect(compared).toHaveLength(1);
      expect(compared[0][0]).toBe(compared[0][1]);
    }
    await expect(auth.authenticate('Bearer the-real-token-0123456789', null)).resolves.toMatchObject({ kind: 'token' });
  });
});
