-- How faithful each cell type's circuits are (replacement and completeness scores, share of the target's attribution
-- left in error nodes) and whether their features matter causally (zeroing the top features lowers the target more
-- than zeroing random ones).
-- reads: circuits_graphs
SELECT cell_type, count(*) AS cells, avg(replacement_score) AS replacement, avg(completeness_score) AS completeness,
       avg(error_share) AS error_share,
       avg(CASE WHEN ablation_top_drop > ablation_random_drop THEN 1 ELSE 0 END) AS causal_agreement,
       avg(nodes) AS kept_nodes, avg(edges) AS kept_edges, avg(seconds) AS seconds_per_cell
FROM circuits_graphs
GROUP BY cell_type
ORDER BY cell_type
