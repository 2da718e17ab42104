/**
 * Requests as MLflow's own client and MLflow's docs send them, against the real server on a loopback port (so the
 * node:http fast path answers, as in production). Each expectation is MLflow's documented or source behaviour,
 * quoted where it is asserted; predictions are checked against the fitted model called directly on the same rows.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMatrix } from '../../../src/data/matrix.js';
import { readModelPackage, type ModelPackage } from '../../../src/registry/package.js';
import { parseJsonFast } from '../../../src/serve/fast-json.js';
import { inputSchema, parseJsonInput } from '../../../src/serve/protocol.js';
import { startServer, type RunningServer } from '../../../src/serve/server.js';
import { forestPackage } from './fixtures.js';

let root: string;
let server: RunningServer;
let pkg: ModelPackage;

/** Four features f0…f3; the third row has f1 missing (NaN), which the model's pipeline imputes. */
const ROWS = [
  [0.5, 1e-7, 2.25, -1],
  [3, 1.5, 0, 4.75],
  [1, Number.NaN, 1e20, 2],
];
const NAMES = ['f0', 'f1', 'f2', 'f3'];

/** What the model itself predicts for `rows` (the reference every answer is compared with). */
function expected(rows: number[][]): unknown[] {
  const X = createMatrix(rows.length, 4, Float64Array.from(rows.flat()));
  return pkg.labels!.decode(pkg.model.predict(X));
}

function post(body: string, contentType = 'application/json'): Promise<Response> {
  return fetch(`${server.url}/invocations`, { method: 'POST', headers: { 'content-type': contentType }, body });
}

async function predictions(body: string, contentType?: string): Promise<unknown[]> {
  const response = await post(body, contentType);
  const text = await response.text();
  expect(response.status, text).toBe(200);
  return (JSON.parse(text) as { predictions: unknown[] }).predictions;
}

async function refusal(body: string, contentType?: string): Promise<{ error_code: string; message: string }> {
  const response = await post(body, contentType);
  expect(response.status).toBe(400);
  return (await response.json()) as { error_code: string; message: string };
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'spotml-mlflow-compat-'));
  const dir = join(root, 'forest');
  await forestPackage({ dir, trees: 15, seed: 5 });
  pkg = await readModelPackage(dir);
  server = await startServer({ model: dir, host: '127.0.0.1', port: 0, pollSeconds: 0, logSink: null });
});

afterAll(async () => {
  await server?.close();
  await rm(root, { recursive: true, force: true });
});

describe("MLflow's own client", () => {
  // mlflow/pyfunc/scoring_server/client.py ScoringServerClient.invoke posts dump_input_data(df, params) as
  // application/json; mlflow/utils/proto_json_utils.py dump_input_data builds
  // {"dataframe_split": df.to_dict(orient="split"), "params": params} and serialises it with json.dumps.
  // to_dict(orient="split") orders its keys index, columns, data; Python's json.dumps (allow_nan=True by default,
  // per the json module docs) writes NaN as the bare word NaN and floats by repr (1e-07, 1e+20).
  const mlflowClientBody =
    '{"dataframe_split": {"index": [0, 1, 2], "columns": ["f0", "f1", "f2", "f3"], "data": [[0.5, 1e-07, 2.25, -1.0], [3.0, 1.5, 0.0, 4.75], [1.0, NaN, 1e+20, 2.0]]}, "params": {"threshold": 0.5}}';

  it('is answered: NaN is a missing value, index and params are ignored (MLflow: json.loads reads NaN; params without a params schema are ignored)', async () => {
    expect(await predictions(mlflowClientBody)).toEqual(expected(ROWS));
  });

  it('stays on the fast path, reading the same matrix as the general parser', () => {
    const schema = inputSchema(NAMES);
    const limits = { maxRows: 100 };
    // The client's body without NaN (bare NaN is not JSON, so that one goes to the general parser).
    const strict = mlflowClientBody.replace('NaN', 'null');
    const fast = parseJsonFast(Buffer.from(strict), schema, limits);
    expect(fast).not.toBeNull();
    expect(Array.from(fast!.matrix.data)).toEqual(Array.from(parseJsonInput(strict, schema, limits).matrix.data));
    expect(Array.from(parseJsonInput(mlflowClientBody, schema, limits).matrix.data)).toEqual(ROWS.flat());
  });

  it('refuses Infinity by row and column (MLflow passes it to the model, which refuses it: 400)', async () => {
    const body = '{"dataframe_split": {"columns": ["f0", "f1", "f2", "f3"], "data": [[1.0, 2.0, -Infinity, 3.0]]}}';
    const error = await refusal(body);
    expect(error.error_code).toBe('BAD_REQUEST');
    expect(error.message).toBe('dataframe_split: row 0, column "f2": the number is infinite or out of range; send a finite number, or null for a missing value');
    // As text too: "inf" is refused by row and column, other words that are not numbers as such.
    expect((await refusal('{"instances": [[1, "-inf", 2, 3]]}')).message).toBe('instances: row 0, column "f1": the number is infinite or out of range; send a finite number, or null for a missing value');
    expect((await refusal('{"instances": [[1, "1.5x", 2, 3]]}')).message).toBe('instances: row 0, column "f1": expected a number or null, got a string ("1.5x")');
  });

  it('reads numbers sent as text as MLflow casts them to the double schema (astype(float64)); "nan" is missing', () => {
    const schema = inputSchema(['f0', 'f1', 'f2', 'f3'], null);
    const parsed = parseJsonInput('{"dataframe_split": {"columns": ["f0", "f1", "f2", "f3"], "data": [["1.5", " 2e3 ", "NaN", "-.25"], [1, "+7", "nan", "0"]]}}', schema, { maxRows: 10 });
    expect(Array.from(parsed.matrix.data)).toEqual([1.5, 2000, Number.NaN, -0.25, 1, 7, Number.NaN, 0]);
  });
});

describe('pandas and the MLflow docs', () => {
  it('reads df.to_json(orient="split") (keys columns, index, data; NaN as null; pandas writes 1.0e-07)', async () => {
    const body = '{"dataframe_split":{"columns":["f0","f1","f2","f3"],"index":[0,1,2],"data":[[0.5,1.0e-07,2.25,-1.0],[3.0,1.5,0.0,4.75],[1.0,null,1.0e+20,2.0]]}}';
    expect(await predictions(body)).toEqual(expected(ROWS));
  });

  it('takes columns in any order and ignores extra ones (MLflow test_column_schema_enforcement: "extra column is ignored", "columns are reordered")', async () => {
    const order = [3, 0, 2, 1];
    const body = JSON.stringify({
      dataframe_split: { columns: ['path', ...order.map((j) => NAMES[j])], data: ROWS.slice(0, 2).map((r) => ['x.wav', ...order.map((j) => r[j])]) },
    });
    expect(await predictions(body)).toEqual(expected(ROWS.slice(0, 2)));
  });

  it('refuses a split with a key pandas does not write (MLflow: "Dataframe split format must have \'data\' field and optionally \'columns\' and \'index\' fields")', async () => {
    const misspelt = JSON.stringify({ dataframe_split: { colums: NAMES, data: [ROWS[0]] } });
    const error = await refusal(misspelt);
    expect(error.message).toBe('dataframe_split has an unknown key "colums"; it takes "data" and optionally "columns" and "index" (pandas\' orient="split")');
  });

  it('reads dataframe_records with a key one record leaves out as missing (pandas.DataFrame(records) gives NaN), and refuses a feature no record has', async () => {
    const records = [
      { f0: 0.5, f1: 1e-7, f2: 2.25, f3: -1 },
      { f0: 1, f2: 1e20, f3: 2 },
    ];
    expect(await predictions(JSON.stringify({ dataframe_records: records }))).toEqual(expected([ROWS[0], ROWS[2]]));
    // MLflow: "Model is missing inputs ['f1']" (mlflow/models/utils.py _enforce_schema), a 400.
    const none = await refusal(JSON.stringify({ dataframe_records: [{ f0: 1, f2: 2, f3: 3 }] }));
    expect(none.message).toBe('dataframe_records: missing feature column "f1"; the model needs 4 columns');
  });

  it('reads "inputs" as a dict of columns, as one record of scalars, and as records (proto_json_utils._cast_schema_type, then pd.DataFrame([dict]) for scalars)', async () => {
    const columns = Object.fromEntries(NAMES.map((n, j) => [n, ROWS.slice(0, 2).map((r) => r[j])]));
    expect(await predictions(JSON.stringify({ inputs: columns }))).toEqual(expected(ROWS.slice(0, 2)));
    const single = Object.fromEntries(NAMES.map((n, j) => [n, ROWS[1][j]]));
    expect(await predictions(JSON.stringify({ inputs: single }))).toEqual(expected([ROWS[1]]));
    expect(await predictions(JSON.stringify({ inputs: [single, { f0: 1, f2: 1e20, f3: 2 }] }))).toEqual(expected([ROWS[1], ROWS[2]]));
  });

  it('ignores top-level keys other than the input field (scoring_server._split_data_and_params keeps only the four fields and params)', async () => {
    expect(await predictions(JSON.stringify({ signature_name: 'serving_default', instances: [ROWS[0]], params: null }))).toEqual(expected([ROWS[0]]));
  });
});

describe('content types', () => {
  it('takes application/json with any-case charset=utf-8 and text/csv as pandas writes it (index column, empty and NA cells missing)', async () => {
    expect(await predictions(JSON.stringify({ instances: [ROWS[0]] }), 'application/json; charset=UTF-8')).toEqual(expected([ROWS[0]]));
    // df.to_csv(): an unnamed index column first, NaN as an empty cell; pandas.read_csv (MLflow's parse_csv_input) reads "NA" and "NULL" as NaN too.
    const csv = ',f0,f1,f2,f3\n0,0.5,1e-07,2.25,-1.0\n1,3.0,1.5,0.0,4.75\n2,1.0,,1e+20,2.0\n3,1.0,NULL,1e+20,2.0\n4,1.0,NA,1e+20,2.0\n';
    expect(await predictions(csv, 'text/csv')).toEqual(expected([...ROWS, ROWS[2], ROWS[2]]));
  });

  it('answers 415 text/plain for what MLflow 2.x refuses: other parameters (MLflow 1.x format=pandas-split), other charsets, other types', async () => {
    // scoring_server.invocations: charset other than utf-8 → 415; "Unrecognized content type parameters" → 415; other types → 415, all text/plain.
    for (const type of ['application/json; format=pandas-split', 'application/json; charset=latin-1', 'application/x-www-form-urlencoded']) {
      const response = await post(JSON.stringify({ instances: [ROWS[0]] }), type);
      expect(response.status).toBe(415);
      expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    }
  });
});
