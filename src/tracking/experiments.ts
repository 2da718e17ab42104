/** Experiments by name, as every command that logs finds its own. */
import { SpotmlError } from '../errors.js';
import type { Experiment, TrackingStore } from './store.js';

/** The experiment named `name`, created when missing; when another process creates it at the same moment, theirs. */
export async function experimentNamed(store: TrackingStore, name: string): Promise<Experiment> {
  const found = await store.getExperimentByName(name);
  if (found) return found;
  try {
    await store.createExperiment(name);
  } catch (err) {
    if (!(err instanceof SpotmlError && err.code === 'INVALID_INPUT')) throw err; // created meanwhile by another process
  }
  const created = await store.getExperimentByName(name);
  if (!created) throw new SpotmlError('STORE', `experiment "${name}" could not be created in ${store.location}`, { experiment: name });
  return created;
}
