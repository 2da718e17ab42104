import type { FittedModel, SerializedModel } from './types.js';

/** The versioned JSON envelope every family saves its fitted state in; `state` is the family's own. */
export function serializedModel(model: Pick<FittedModel, 'family' | 'task' | 'nFeatures' | 'nClasses' | 'params'>, state: unknown): SerializedModel {
  return {
    format: 'spotml-model',
    formatVersion: 1,
    family: model.family,
    task: model.task,
    nFeatures: model.nFeatures,
    ...(model.nClasses !== undefined ? { nClasses: model.nClasses } : {}),
    params: { ...model.params },
    state,
  };
}
