import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FAMILIES, getFamily } from '../../../src/learners/catalogue.js';
import { checkSpaceForFamily, defaultSpacePath, fitSpaceToRows, loadSpaceFile, parseSpace, resolveSpace } from '../../../src/search/space.js';
import { existsSync } from 'node:fs';

const dir = mkdtempSync(join(tmpdir(), 'spotml-space-'));
function yamlFile(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('YAML search spaces', () => {
  it('reads float (uniform, log, step), int (step, log), categorical and conditional entries', () => {
    const file = loadSpaceFile(
      yamlFile(
        'ok.yaml',
        `family: svm
params:
  C: { type: float, low: 0.01, high: 100, log: true }
  tol: { type: float, low: 0, high: 1, step: 0.25 }
  n: { type: int, low: 2, high: 10, step: 2 }
  m: { type: int, low: 1, high: 64, log: true }
  kernel: { type: categorical, choices: [rbf, linear] }
  gamma: { type: float, low: 0.001, high: 1, log: true, condition: { param: kernel, in: [rbf] } }
fixed:
  probability: false
`,
      ),
    );
    expect(file.family).toBe('svm');
    expect(file.space.C.distribution).toEqual({ kind: 'float', low: 0.01, high: 100, log: true });
    expect(file.space.tol.distribution).toEqual({ kind: 'float', low: 0, high: 1, log: false, step: 0.25 });
    expect(file.space.n.distribution).toEqual({ kind: 'int', low: 2, high: 10, log: false, step: 2 });
    expect(file.space.m.distribution).toEqual({ kind: 'int', low: 1, high: 64, log: true, step: 1 });
    expect(file.space.kernel.distribution).toEqual({ kind: 'categorical', choices: ['rbf', 'linear'] });
    expect(file.space.gamma.condition).toEqual({ param: 'kernel', in: ['rbf'] });
    expect(file.fixed).toEqual({ probability: false });
  });

  const bad: [string, string, RegExp][] = [
    ['not a mapping', '- 1\n- 2\n', /must be a mapping/],
    ['no params', 'family: knn\n', /"params" must map/],
    ['unknown top key', 'parms: {}\nparams: { a: { type: int, low: 1, high: 2 } }\n', /unknown key "parms"/],
    ['bad type', 'params: { a: { type: double, low: 1, high: 2 } }\n', /params\.a: "type" must be float, int or categorical/],
    ['low above high', 'params: { a: { type: float, low: 3, high: 2 } }\n', /params\.a: low \(3\) must not exceed high \(2\)/],
    ['log with low 0', 'params: { a: { type: float, low: 0, high: 2, log: true } }\n', /log-scaled range needs low > 0/],
    ['fractional int', 'params: { a: { type: int, low: 0.5, high: 2 } }\n', /whole-number low and high/],
    ['step not dividing', 'params: { a: { type: int, low: 0, high: 5, step: 2 } }\n', /multiple of step 2/],
    ['empty choices', 'params: { a: { type: categorical, choices: [] } }\n', /non-empty "choices"/],
    ['duplicate choices', 'params: { a: { type: categorical, choices: [x, x] } }\n', /distinct/],
    ['unknown parent', 'params: { a: { type: float, low: 0, high: 1, condition: { param: b, in: [x] } } }\n', /refers to "b", which is not in params/],
    ['parent not categorical', 'params: { b: { type: float, low: 0, high: 1 }, a: { type: float, low: 0, high: 1, condition: { param: b, in: [1] } } }\n', /must be categorical/],
    ['value not a choice', 'params: { b: { choices: [x, y] }, a: { type: float, low: 0, high: 1, condition: { param: b, in: [z] } } }\n', /"z" is not a choice of "b"/],
    ['typo in entry', 'params: { a: { type: float, lo: 0, high: 1 } }\n', /unknown key "lo"/],
  ];
  for (const [name, text, pattern] of bad) {
    it(`rejects ${name} with a message naming the file and the fix`, () => {
      const path = yamlFile(`${name.replace(/\W/g, '_')}.yaml`, text);
      expect(() => loadSpaceFile(path)).toThrow(pattern);
      expect(() => loadSpaceFile(path)).toThrow(path);
    });
  }

  it('rejects invalid YAML and a missing file with clear errors', () => {
    expect(() => loadSpaceFile(yamlFile('broken.yaml', 'params: { a: [1, 2\n'))).toThrow(/not valid YAML/);
    expect(() => loadSpaceFile(join(dir, 'nope.yaml'))).toThrow(/cannot be read: check the --space path/);
  });

  it('checks a space against the family: names, types, bounds and choices', () => {
    const knn = getFamily('knn');
    const check = (text: string): unknown => checkSpaceForFamily(parseSpace(JSON.parse(text), 'x.yaml'), knn);
    expect(() => check('{"params":{"k":{"type":"int","low":1,"high":5}}}')).toThrow(/knn has no such parameter/);
    expect(() => check('{"params":{"n_neighbors":{"type":"float","low":1,"high":5}}}')).toThrow(/is an int; use type: int/);
    expect(() => check('{"params":{"n_neighbors":{"type":"int","low":0,"high":5}}}')).toThrow(/leaves the allowed \[1, 10000\]/);
    expect(() => check('{"params":{"weights":{"choices":["uniform","cosine"]}}}')).toThrow(/"cosine" is not one of uniform, distance/);
    expect(() => check('{"family":"svm","params":{"n_neighbors":{"type":"int","low":1,"high":5}}}')).toThrow(/the space is for "svm"/);
  });

  it('turns YAML numbers into the text choices a family expects', () => {
    const tree = getFamily('decision_tree');
    const file = checkSpaceForFamily(parseSpace({ params: { max_features: { choices: [0.5, 'sqrt'] } } }, 'x.yaml'), tree);
    expect(file.space.max_features.distribution).toEqual({ kind: 'categorical', choices: ['0.5', 'sqrt'] });
  });

  it('ships a valid default space for every family in the catalogue', () => {
    for (const family of FAMILIES) {
      expect(existsSync(defaultSpacePath(family.name)), family.name).toBe(true);
      const file = resolveSpace(family);
      expect(Object.keys(file.space).length, family.name).toBeGreaterThan(0);
      expect(file.source).toBe(defaultSpacePath(family.name));
    }
  });
});

describe('fitting a space to the training rows', () => {
  const space = parseSpace(
    {
      params: {
        n_neighbors: { type: 'int', low: 1, high: 50, log: true },
        weights: { choices: ['uniform', 'distance'] },
      },
    },
    'test',
  ).space;

  it("lowers knn's n_neighbors upper end to the rows, keeping the rest of the space", () => {
    const { space: fitted, lowered } = fitSpaceToRows(space, getFamily('knn'), 40);
    expect(fitted.n_neighbors.distribution).toEqual({ kind: 'int', low: 1, high: 40, log: true, step: 1 });
    expect(fitted.weights).toBe(space.weights);
    expect(lowered).toEqual([{ param: 'n_neighbors', high: 50, lowered: 40 }]);
    // The declared space is left as it was.
    expect(space.n_neighbors.distribution).toMatchObject({ high: 50 });
  });

  it('stays on a stepped range: the largest low + k·step not above the rows', () => {
    const stepped = parseSpace({ params: { n_neighbors: { type: 'int', low: 3, high: 63, step: 4 } } }, 'test').space;
    // 3, 7, …, 39 ≤ 41 < 43.
    expect(fitSpaceToRows(stepped, getFamily('knn'), 41).space.n_neighbors.distribution).toMatchObject({ low: 3, high: 39, step: 4 });
  });

  it('leaves a range alone when it fits the rows, lies wholly above them, or belongs to a family without row bounds', () => {
    expect(fitSpaceToRows(space, getFamily('knn'), 50)).toEqual({ space, lowered: [] });
    const above = parseSpace({ params: { n_neighbors: { type: 'int', low: 100, high: 200 } } }, 'test').space;
    expect(fitSpaceToRows(above, getFamily('knn'), 40).lowered).toEqual([]);
    expect(fitSpaceToRows(space, getFamily('svm'), 10).lowered).toEqual([]);
  });
});
