-- How faithful the transcoders are, on the held-out cells: each model variant's answer loss, KL to the original and
-- accuracy, and the share of the loss that zeroing the MLPs costs which the transcoders recover
-- (loss_recovered = (zero_mlp - variant) / (zero_mlp - original); 1 = as good as the original MLPs).
-- reads: evaluate_evaluation_summary
SELECT v.variant, v.layer, v.answer_loss, v.answer_loss - o.answer_loss AS answer_loss_increase, v.kl, v.answer_kl,
       v.accuracy, v.accuracy - o.accuracy AS accuracy_change,
       CASE WHEN z.answer_loss = o.answer_loss THEN NULL
            ELSE (z.answer_loss - v.answer_loss) / (z.answer_loss - o.answer_loss) END AS loss_recovered,
       v.cells
FROM evaluate_evaluation_summary v
CROSS JOIN (SELECT answer_loss, accuracy FROM evaluate_evaluation_summary WHERE variant = 'original') o
LEFT JOIN (SELECT answer_loss FROM evaluate_evaluation_summary WHERE variant = 'zero_mlp') z
ORDER BY CASE v.variant WHEN 'original' THEN 0 WHEN 'replaced_all' THEN 1 WHEN 'zero_mlp' THEN 3 ELSE 2 END,
         v.layer, v.variant
