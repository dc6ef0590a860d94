-- Where one gene sits in each cell type's sentences (rank 0 = highest expressed), and in what share of the cells.
-- param: gene string = VWF
-- reads: sentences
SELECT cell_type, count(*) AS cells,
       avg(CASE WHEN array_contains(genes, ${gene}) THEN array_position(genes, ${gene}) - 1 END) AS mean_rank_when_present,
       avg(CASE WHEN array_contains(genes, ${gene}) THEN 1 ELSE 0 END) AS share_of_cells_with_it
FROM sentences
GROUP BY cell_type
ORDER BY share_of_cells_with_it DESC, cell_type
