-- The knock-outs that hurt a cell type's prediction most: per gene or feature, over the type's cells, the mean
-- log-prob drop, the mean attribution rank and the share of cells whose prediction changed, with the feature's label.
-- param: cell_type string
-- param: top int = 10
-- reads: interpret_validation_knockouts, interpret_features
SELECT k.kind, k.gene, k.layer, k.feature, f.label, count(*) AS cells, avg(k.logprob_drop) AS mean_logprob_drop,
       avg(k.attribution_rank) AS mean_attribution_rank,
       avg(CASE WHEN k.prediction_changed THEN 1 ELSE 0 END) AS changed_share
FROM interpret_validation_knockouts k
LEFT JOIN interpret_features f ON f.layer = k.layer AND f.feature = k.feature
WHERE k.cell_type = ${cell_type}
GROUP BY k.kind, k.gene, k.layer, k.feature, f.label
ORDER BY mean_logprob_drop DESC, k.kind, k.gene, k.layer, k.feature
LIMIT ${top}
