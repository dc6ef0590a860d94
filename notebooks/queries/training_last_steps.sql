-- Transcoder training, per layer: steps, tokens, and the mean explained variance and L0 of the last `last_steps`
-- steps, with the dead fraction at the end.
-- param: last_steps int = 20
-- reads: train_log
SELECT layer, max(step) + 1 AS steps, max(tokens_seen) AS tokens,
       avg(explained_variance) AS ev_last_steps, avg(l0) AS l0_last_steps,
       max_by(dead_fraction, step) AS dead_fraction_at_end
FROM (SELECT *, row_number() OVER (PARTITION BY layer ORDER BY step DESC) AS back FROM train_log)
WHERE back <= ${last_steps}
GROUP BY layer
ORDER BY layer
