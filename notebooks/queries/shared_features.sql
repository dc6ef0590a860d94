-- Features that the circuits of several cell types share (candidates for shared programmes): in at least `min_share`
-- of the cells of at least `min_types` types.
-- param: min_share double = 0.5
-- param: min_types int = 2
-- reads: circuits_summary
SELECT layer, feature, count(DISTINCT cell_type) AS types, sum(cells) AS cells,
       concat_ws(', ', array_sort(collect_list(cell_type))) AS cell_types
FROM circuits_summary
WHERE kind = 'feature' AND share >= ${min_share}
GROUP BY layer, feature
HAVING count(DISTINCT cell_type) >= ${min_types}
ORDER BY types DESC, cells DESC, layer, feature
