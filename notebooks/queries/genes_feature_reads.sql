-- Which genes a feature reads: its heaviest genes by activation mass in order (place 1 = its top gene), how many of
-- its top examples sit on each, and the feature's label, gene-level score and firing frequency.
-- param: layer int
-- param: feature int
-- reads: interpret_features
SELECT f.layer, f.feature, f.label, g.place + 1 AS place, g.gene,
       size(filter(f.top_examples, e -> e.gene = g.gene)) AS top_examples_on_gene,
       f.top_gene_share, f.top3_share, f.firing_frequency, f.top_cell_type, f.enriched_set
FROM interpret_features f
LATERAL VIEW posexplode(f.top_genes) g AS place, gene
WHERE f.layer = ${layer} AND f.feature = ${feature}
ORDER BY place
