/** The OpenAPI 3.1 description of the scoring server, with the loaded model's feature columns in the schemas. */
import { SPOTML_VERSION } from '../version.js';

export interface OpenApiModel {
  name: string;
  featureNames: readonly string[];
  classes: readonly (string | number)[] | null;
  hasSpec: boolean;
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
  const cell = { type: ['number', 'null'], description: 'a finite number; null is a missing value' };
  const record = { type: 'object', properties: Object.fromEntries(names.map((n) => [n, cell])), required: [...names] };
  const row = { type: 'array', items: cell, minItems: names.length, maxItems: names.length };
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
          description: 'exactly one of the four input fields (MLflow scoring protocol)',
          oneOf: [
            { type: 'object', required: ['dataframe_split'], properties: { dataframe_split: { type: 'object', required: ['data'], properties: { columns: { type: 'array', items: { type: 'string' } }, data: { type: 'array', items: row }, index: { type: 'array' } } } } },
            { type: 'object', required: ['dataframe_records'], properties: { dataframe_records: { type: 'array', items: record } } },
            { type: 'object', required: ['instances'], properties: { instances: { type: 'array', items: { oneOf: [row, record] } } } },
            { type: 'object', required: ['inputs'], properties: { inputs: { oneOf: [{ type: 'object', properties: Object.fromEntries(names.map((n) => [n, { type: 'array', items: cell }])) }, { type: 'array', items: row }] } } },
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
              'text/csv': { schema: { type: 'string', description: `a header row naming the columns (${names.slice(0, 3).join(', ')}${names.length > 3 ? ', …' : ''}), then one row per line` } },
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
          summary: "featurise a WAV with the model's FeatureSpec and predict (one prediction per segment plus an aggregate)",
          security,
          requestBody: {
            required: true,
            content: {
              'audio/wav': { schema: { type: 'string', format: 'binary' } },
              'multipart/form-data': { schema: { type: 'object', properties: { file: { type: 'string', format: 'binary' } } } },
            },
          },
          responses: {
            200: { description: 'predictions per segment and for the whole file' },
            400: errorResponse('not a WAV upload'),
            409: errorResponse('the model has no FeatureSpec'),
            413: errorResponse('upload too large'),
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
    'x-spotml': { audio: model?.hasSpec ?? false, features: names.length },
  };
}
