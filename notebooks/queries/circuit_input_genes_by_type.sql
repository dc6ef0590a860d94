-- The input genes each cell type's circuits are read in: the `top` genes by total attribution, in rank order.
-- param: top int = 10
-- reads: circuits_summary
SELECT cell_type, concat_ws(' ', transform(array_sort(collect_list(struct(rank, gene))), g -> g.gene)) AS top_genes
FROM circuits_summary
WHERE kind = 'gene' AND rank <= ${top}
GROUP BY cell_type
ORDER BY cell_type
