-- The automated human evaluation, per layer: live features (fired at least once) and the share of them whose top
-- gene holds at least `threshold` of their activation mass (the interpretability table's row at that threshold).
-- param: threshold double = 0.5
-- reads: interpret_features
SELECT layer, kind, count(*) AS features, sum(CASE WHEN firing_count > 0 THEN 1 ELSE 0 END) AS live,
       sum(CASE WHEN firing_count > 0 AND top_gene_share >= ${threshold} THEN 1 ELSE 0 END) AS gene_level,
       sum(CASE WHEN firing_count > 0 AND top_gene_share >= ${threshold} THEN 1 ELSE 0 END)
         / nullif(sum(CASE WHEN firing_count > 0 THEN 1 ELSE 0 END), 0) AS gene_level_share
FROM interpret_features
GROUP BY layer, kind
ORDER BY layer
