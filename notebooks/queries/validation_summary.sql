-- How well circuit attributions predict knock-outs, per cell type and unit kind (gene or feature): Spearman
-- correlation of attribution and log-prob drop, the share of knock-outs that change the prediction, the mean drop.
-- reads: interpret_validation_summary
SELECT kind, cell_type, cells, units, spearman, changed_share, mean_logprob_drop
FROM interpret_validation_summary
ORDER BY kind, cell_type
