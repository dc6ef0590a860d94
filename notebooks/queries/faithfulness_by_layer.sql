-- How faithful each layer's transcoder is: explained variance, L0 and never-fired share on the held-out tokens, and
-- what replacing only that layer costs (answer loss above the original model's, KL).
-- reads: evaluate_evaluation_layers, evaluate_evaluation_summary
SELECT l.layer, l.kind, l.d_sae, l.explained_variance, l.l0, l.never_fired_share,
       l.answer_loss_replaced_only_this_layer - o.answer_loss AS answer_loss_increase,
       l.kl_replaced_only_this_layer AS kl, l.tokens
FROM evaluate_evaluation_layers l
CROSS JOIN (SELECT answer_loss FROM evaluate_evaluation_summary WHERE variant = 'original') o
ORDER BY l.layer
