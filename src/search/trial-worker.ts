/** Worker-thread entry: cross-validates (or refits) one configuration per task on the shared data. */
import { serveTasks } from '../runtime/pool.js';
import { getFamily } from '../learners/catalogue.js';
import { crossValidate } from './crossval.js';
import { dataFromTask, familyInput, fitAllRows, type TrialAnswer, type TrialTask } from './executor.js';

serveTasks<TrialTask, TrialAnswer>(async (task) => {
  const data = dataFromTask(task);
  if (task.kind === 'fit') return fitAllRows(data, task.family, task.params, task.seed);
  // Frame families read the shared patches, the others the table (epochs come back in the result).
  const input = familyInput(data, task.family, task.params);
  return crossValidate(getFamily(task.family), input.params, {
    ...data,
    X: input.X,
    seed: task.seed,
    signal: AbortSignal.timeout(Math.max(1, Math.round(task.timeLimitMs))),
  });
});
