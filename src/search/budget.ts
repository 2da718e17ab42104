/** The AutoML search budget when --time-budget is not given, in seconds (a module of its own so the CLI can
 * show it without loading the training stack). */
export const DEFAULT_SEARCH_BUDGET_SECONDS = 60;
