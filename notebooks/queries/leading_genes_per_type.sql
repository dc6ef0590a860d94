-- The genes that most often lead each cell type's sentences: for each type, the genes found most often among the
-- first `ranks` genes of its cells, the `per_type` most frequent kept (ties by gene).
-- param: ranks int = 5
-- param: per_type int = 5
-- reads: sentences
SELECT cell_type, gene, cells_with_gene_leading
FROM (
  SELECT cell_type, gene, count(*) AS cells_with_gene_leading,
         row_number() OVER (PARTITION BY cell_type ORDER BY count(*) DESC, gene) AS place
  FROM (SELECT cell_type, explode(slice(genes, 1, ${ranks})) AS gene FROM sentences)
  GROUP BY cell_type, gene)
WHERE place <= ${per_type}
ORDER BY cell_type, cells_with_gene_leading DESC, gene
