-- One cell's circuit: its `top` strongest edges, with the genes its token nodes spell.
-- param: cell_id string
-- param: top int = 25
-- reads: circuits_edges, circuits_nodes
SELECT e.source, s.gene AS source_gene, e.target, t.gene AS target_gene, e.weight
FROM circuits_edges e
LEFT JOIN circuits_nodes s ON s.cell_id = e.cell_id AND s.node_id = e.source
LEFT JOIN circuits_nodes t ON t.cell_id = e.cell_id AND t.node_id = e.target
WHERE e.cell_id = ${cell_id}
ORDER BY abs(e.weight) DESC, e.source, e.target
LIMIT ${top}
