package org.cellcircuits.interpret;

/**
 * What removing one unit of a cell's circuit did to the target, one row of {@code validation/knockouts}.
 *
 * @param unit what was removed, with its attribution
 * @param rank its rank among the cell's units of its kind, by |attribution| (1 = largest)
 * @param baseLogprob log-probability of the target token before the removal
 * @param logprobDrop that log-probability minus the one after (positive: the target lost probability)
 * @param valueDrop the target's value (the logit, or logit difference, the attribution explains) before minus after
 * @param predictionChanged whether the most likely next token changed
 */
public record KnockoutEffect(AttributedUnit unit, int rank, double baseLogprob, double logprobDrop, double valueDrop,
    boolean predictionChanged) {}
