-- Cells per annotated type, and the median number of genes they express.
-- reads: sentences
SELECT cell_type, count(*) AS cells, percentile(n_expressed, 0.5) AS median_genes_expressed
FROM sentences
GROUP BY cell_type
ORDER BY cells DESC, cell_type
