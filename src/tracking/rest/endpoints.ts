/**
 * Every MLflow REST endpoint spotml calls, as data (MLflow's rest_store maps request types the same way).
 * Paths are relative to `<tracking uri>/api/2.0/` (shared docs/mlflow.md §5). Where MLflow offers both
 * GET and POST, POST is used.
 */
export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'DELETE' | 'PUT';

export interface Endpoint {
  readonly method: HttpMethod;
  readonly path: string;
}

export const ENDPOINTS = {
  // tracking
  createExperiment: { method: 'POST', path: 'mlflow/experiments/create' },
  getExperiment: { method: 'GET', path: 'mlflow/experiments/get' },
  getExperimentByName: { method: 'GET', path: 'mlflow/experiments/get-by-name' },
  searchExperiments: { method: 'POST', path: 'mlflow/experiments/search' },
  setExperimentTag: { method: 'POST', path: 'mlflow/experiments/set-experiment-tag' },
  deleteExperiment: { method: 'POST', path: 'mlflow/experiments/delete' },
  restoreExperiment: { method: 'POST', path: 'mlflow/experiments/restore' },
  createRun: { method: 'POST', path: 'mlflow/runs/create' },
  updateRun: { method: 'POST', path: 'mlflow/runs/update' },
  getRun: { method: 'GET', path: 'mlflow/runs/get' },
  searchRuns: { method: 'POST', path: 'mlflow/runs/search' },
  deleteRun: { method: 'POST', path: 'mlflow/runs/delete' },
  restoreRun: { method: 'POST', path: 'mlflow/runs/restore' },
  logBatch: { method: 'POST', path: 'mlflow/runs/log-batch' },
  logMetric: { method: 'POST', path: 'mlflow/runs/log-metric' },
  logParameter: { method: 'POST', path: 'mlflow/runs/log-parameter' },
  setTag: { method: 'POST', path: 'mlflow/runs/set-tag' },
  deleteTag: { method: 'POST', path: 'mlflow/runs/delete-tag' },
  getMetricHistory: { method: 'GET', path: 'mlflow/metrics/get-history' },
  listArtifacts: { method: 'GET', path: 'mlflow/artifacts/list' },
  // model registry
  createRegisteredModel: { method: 'POST', path: 'mlflow/registered-models/create' },
  getRegisteredModel: { method: 'GET', path: 'mlflow/registered-models/get' },
  searchRegisteredModels: { method: 'GET', path: 'mlflow/registered-models/search' },
  updateRegisteredModel: { method: 'PATCH', path: 'mlflow/registered-models/update' },
  renameRegisteredModel: { method: 'POST', path: 'mlflow/registered-models/rename' },
  deleteRegisteredModel: { method: 'DELETE', path: 'mlflow/registered-models/delete' },
  setRegisteredModelTag: { method: 'POST', path: 'mlflow/registered-models/set-tag' },
  deleteRegisteredModelTag: { method: 'DELETE', path: 'mlflow/registered-models/delete-tag' },
  getLatestVersions: { method: 'POST', path: 'mlflow/registered-models/get-latest-versions' },
  setRegisteredModelAlias: { method: 'POST', path: 'mlflow/registered-models/alias' },
  deleteRegisteredModelAlias: { method: 'DELETE', path: 'mlflow/registered-models/alias' },
  getModelVersionByAlias: { method: 'GET', path: 'mlflow/registered-models/alias' },
  createModelVersion: { method: 'POST', path: 'mlflow/model-versions/create' },
  getModelVersion: { method: 'GET', path: 'mlflow/model-versions/get' },
  searchModelVersions: { method: 'GET', path: 'mlflow/model-versions/search' },
  updateModelVersion: { method: 'PATCH', path: 'mlflow/model-versions/update' },
  deleteModelVersion: { method: 'DELETE', path: 'mlflow/model-versions/delete' },
  transitionModelVersionStage: { method: 'POST', path: 'mlflow/model-versions/transition-stage' },
  setModelVersionTag: { method: 'POST', path: 'mlflow/model-versions/set-tag' },
  deleteModelVersionTag: { method: 'DELETE', path: 'mlflow/model-versions/delete-tag' },
  getModelVersionDownloadUri: { method: 'GET', path: 'mlflow/model-versions/get-download-uri' },
} as const satisfies Record<string, Endpoint>;

export type EndpointName = keyof typeof ENDPOINTS;

/** The artifact proxy (`--serve-artifacts`): PUT/GET/DELETE a file, GET `?path=` to list a folder. */
export const ARTIFACT_PROXY_PATH = 'mlflow-artifacts/artifacts';

/** MLflow's log-batch limits (fact 8; `bytes` is the JSON body): the REST store splits larger batches. */
export const LOG_BATCH_LIMITS = { metrics: 1000, params: 100, tags: 100, total: 1000, bytes: 1_000_000 } as const;
