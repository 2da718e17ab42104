/** Worker-thread entry: cross-validates one configuration per task on the shared data. */
import { serveTasks } from '../runtime/pool.js';
import { getFamily } from '../learners/catalogue.js';
import { crossValidate } from './crossval.js';
import { dataFromTask, fitAllRows, type TrialAnswer, type TrialTask } from './executor.js';

serveTasks<TrialTask, TrialAnswer>(async (task) => {
  const data = dataFromTask(task);
  if (task.kind === 'fit') return fitAllRows(data, task.family, task.params, task.seed);
  return crossValidate(getFamily(task.family), task.params, {
    ...data,
    seed: task.seed,
    signal: AbortSignal.timeout(Math.max(1, Math.round(task.timeLimitMs))),
  });
});
