-- Training curves: loss, mse, L0 and explained variance every `every` steps (plot with display() on Databricks).
-- param: every int = 50
-- reads: train_log
SELECT layer, step, loss, mse, l0, explained_variance, lr, l1_coefficient
FROM train_log
WHERE step % ${every} = 0
ORDER BY layer, step
