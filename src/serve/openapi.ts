/**
 * The OpenAPI 3.1 description of the scoring server, with the loaded model's feature columns in the schemas.
 *
 * A model that reads frame-level input takes, per row, its summary features then an n_bands × frames patch
 * (band-major). Positional rows (`instances`, `inputs` as rows, `dataframe_split` without columns) carry the
 * full width; column-named forms (`dataframe_split` with columns, `dataframe_records`, `inputs` by column, CSV)
 * name the patch columns `<feature>[<band>][<frame>]` (0-based). The schemas list the summary columns by name
 * and the patch columns by pattern, so the document stays small for patches of thousands of values.
 */
import type { FrameInput } from '../learners/dl/frame-input.js';
import { SPOTML_VERSION } from '../version.js';

export interface OpenApiModel {
  name: string;
  /** The summary feature columns (all columns unless the model reads frames). */
  featureNames: readonly string[];
  /** The patch after the summary columns, for frame models. */
  frameInput?: FrameInput | null;
  classes: readonly (string | number)[] | null;
  hasSpec: boolean;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

const errorSchema = {
  type: 'object',
  required: ['error_code', 'message'],
  properties: {
    error_code: { type: 'string', examples: ['BAD_REQUEST'] },
    message: { type: 'string' },
    details: { type: 'object' },
    request_id: { type: 'string' },
  },
};

function errorResponse(description: string): Record<string, unknown> {
  return { description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
}

export function openApiDocument(model: OpenApiModel | null, authEnabled: boolean): Record<string, unknown> {
  const names = model?.featureNames ?? [];
  const frames = model?.frameInput ?? null;
  const width = names.length + (frames ? frames.n_bands * frames.frames : 0);
  const cell = { type: ['number', 'null'], description: 'a finite number; null is a missing value' };
  const patch = frames ? `the ${frames.n_bands} × ${frames.frames} ${frames.feature} patch` : '';
  const patchNote = frames ? `; then ${patch}, its columns named ${frames.feature}[<band>][<frame>] (0-based, ${frames.n_bands * frames.frames} of them, all required)` : '';
  const patchPattern = frames ? `^${escapeRegExp(frames.feature)}\\[\\d+\\]\\[\\d+\\]$` : null;
  const record = {
    type: 'object',
    properties: Object.fromEntries(names.map((n) => [n, cell])),
    ...(patchPattern ? { patternProperties: { [patchPattern]: cell }, description: `the summary feature columns${patchNote}` } : {}),
    required: [...names],
  };
  const row = {
    type: 'array',
    items: cell,
    minItems: width,
    maxItems: width,
    ...(frames ? { description: `${names.length} summary feature values, then ${patch} flattened band-major (band 0's frames first)` } : {}),
  };
  const byColumn = Object.fromEntries(names.map((n) => [n, { type: 'array', items: cell }]));
  const label = model?.classes ? { enum: [...model.classes] } : { type: 'number' };
  const security = authEnabled ? [{ bearer: [] }] : [];
  return {
    openapi: '3.1.0',
    info: { title: `spotml scoring server${model ? ` (${model.name})` : ''}`, version: SPOTML_VERSION },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'a static token or a JWT' } },
      schemas: {
        Error: errorSchema,
        ScoringRequest: {
          description: 'exactly one of the four input fields (MLflow scoring protocol); other keys, such as MLflow 2.x params, are ignored. Python json.dumps NaN is read as a missing value',
          oneOf: [
            { type: 'object', required: ['dataframe_split'], properties: { dataframe_split: { type: 'object', required: ['data'], properties: { columns: { type: 'array', items: { type: 'string' } }, data: { type: 'array', items: row }, index: { type: 'array' } } } } },
            { type: 'object', required: ['dataframe_records'], properties: { dataframe_records: { type: 'array', items: record } } },
            { type: 'object', required: ['instances'], properties: { instances: { type: 'array', items: { oneOf: [row, record] } } } },
            {
              type: 'object',
              required: ['inputs'],
              properties: {
                inputs: {
                  oneOf: [
                    { type: 'object', properties: byColumn, ...(patchPattern ? { patternProperties: { [patchPattern]: { type: 'array', items: cell } } } : {}) },
                    { type: 'array', items: row },
                  ],
                },
              },
            },
          ],
        },
        ScoringResponse: {
          type: 'object',
          required: ['predictions'],
          properties: {
            predictions: { type: 'array', items: label },
            probabilities: { type: 'array', items: { type: 'array', items: { type: 'number' } }, description: 'with ?proba=true, per row in `classes` order' },
            classes: { type: 'array', items: label },
          },
        },
      },
    },
    paths: {
      '/invocations': {
        post: {
          summary: 'predict feature rows',
          security,
          parameters: [
            { name: 'proba', in: 'query', schema: { type: 'boolean' }, description: 'add class probabilities' },
            { name: 'X-Spotml-Proba', in: 'header', schema: { type: 'boolean' }, description: 'add class probabilities' },
          ],
          requestBody: {
            required: true,
            content: {
              'application/json': { schema: { $ref: '#/components/schemas/ScoringRequest' } },
              'text/csv': {
                schema: {
                  type: 'string',
                  description: `a header row naming the columns (${names.slice(0, 3).join(', ')}${names.length > 3 ? ', …' : ''}${patchNote}), then one row per line`,
                },
              },
            },
          },
          responses: {
            200: { description: 'one prediction per row', content: { 'application/json': { schema: { $ref: '#/components/schemas/ScoringResponse' } } } },
            400: errorResponse('malformed body or a schema violation, naming the field'),
            401: errorResponse('no or bad credentials'),
            403: errorResponse("the token's tenant does not own the model"),
            413: errorResponse('body or row limit exceeded'),
            415: { description: 'content type other than application/json or text/csv', content: { 'text/plain': { schema: { type: 'string' } } } },
          },
        },
      },
      '/predict/audio': {
        post: {
          summary:
            "featurise a WAV with the model's FeatureSpec and predict (one prediction per segment plus an aggregate); a model that reads frames also gets each clip's or segment's frame patch, as extract --frames writes it, and a whole clip longer than its patch is predicted window by window",
          security,
          requestBody: {
            required: true,
            content: {
              'audio/wav': { schema: { type: 'string', format: 'binary' } },
              'multipart/form-data': { schema: { type: 'object', properties: { file: { type: 'string', format: 'binary' } } } },
            },
          },
          responses: {
            200: { description: 'predictions per segment and for the whole file; "warnings" (when present) lists what was wrong with audio that still decoded (truncated, malformed, too short)' },
            400: errorResponse('not a WAV upload'),
            401: errorResponse('no or bad credentials'),
            403: errorResponse("the token's tenant does not own the model"),
            409: errorResponse('the model has no FeatureSpec'),
            413: errorResponse('upload too large'),
            415: errorResponse('content type other than audio/wav or multipart/form-data'),
            422: errorResponse('the WAV cannot be decoded'),
          },
        },
      },
      '/ping': { get: { summary: 'liveness: 200 when a model is loaded', responses: { 200: { description: 'ok' }, 404: { description: 'no model' } } } },
      '/health': { get: { summary: 'readiness: 200 when a model is loaded and the server is not draining', responses: { 200: { description: 'ready' }, 503: { description: 'draining or no model' } } } },
      '/version': { get: { summary: 'spotml version and the loaded model (name, version, alias, FeatureSpec hash)', security, responses: { 200: { description: 'versions' } } } },
      '/metrics': { get: { summary: 'Prometheus metrics', responses: { 200: { description: 'text exposition format 0.0.4' } } } },
      '/openapi.json': { get: { summary: 'this document', responses: { 200: { description: 'OpenAPI 3.1' } } } },
    },
    'x-spotml': { audio: model?.hasSpec ?? false, features: names.length, frame_input: frames, input_width: width },
  };
}
