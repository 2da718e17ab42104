/** Worker-thread entry: cross-validates one configuration per task on the shared data. */
import { serveTasks } from '../runtime/pool.js';
import { getFamily } from '../learners/catalogue.js';
import { crossValidate, type CrossValidationResult } from './crossval.js';
import { dataFromTask, type TrialTask } from './executor.js';

serveTasks<TrialTask, CrossValidationResult>(async (task) => {
  const data = dataFromTask(task);
  return crossValidate(getFamily(task.family), task.params, {
    ...data,
    seed: task.seed,
    signal: AbortSignal.timeout(Math.max(1, Math.round(task.timeLimitMs))),
  });
});
