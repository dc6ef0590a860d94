-- Which features drive a cell type: the `top` features of its circuits (ranked by total attribution over the type's
-- cells, circuits stage), with what the interpret stage made of each (label, top gene and its share of the feature's
-- activation mass, the type it is most specific to, the gene set its top genes are enriched in).
-- param: cell_type string
-- param: top int = 10
-- reads: circuits_summary, interpret_features
SELECT s.rank, s.layer, s.feature, s.cells, s.cells_of_type, s.share, s.total_attribution, s.mean_attribution,
       f.label, f.top_gene, f.top_gene_share, f.top_cell_type, f.cell_type_tau, f.enriched_set, f.enrichment_q,
       concat_ws(' ', f.top_genes) AS top_genes
FROM circuits_summary s
LEFT JOIN interpret_features f ON f.layer = s.layer AND f.feature = s.feature
WHERE s.kind = 'feature' AND s.cell_type = ${cell_type} AND s.rank <= ${top}
ORDER BY s.rank
