package org.cellcircuits.circuits;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;

/**
 * What {@link CircuitTracerJson} needs to export one cell's pruned graph beyond the graph itself. That the lists have
 * one entry per graph position is checked by the writer, which knows the graph.
 *
 * @param slug the graph's name in circuit-tracer's frontend (its file is {@code <slug>.json})
 * @param scan the model (transcoder set) the graph was made with; circuit-tracer's {@code metadata.scan}
 * @param prompt the prompt text
 * @param promptTokens per position, the token's text
 * @param tokenIds per position, the token's vocabulary id (goes into the token node ids as circuit-tracer's does);
 *     null when not known, then -1 is written
 * @param genes per position, the gene symbol the token belongs to, null for tokens outside gene symbols; the whole
 *     list may be null (no genes). Consecutive positions with the same symbol are one gene (a symbol split into
 *     several tokens)
 * @param targetLabel what the target is, written into the logit node's clerp as circuit-tracer writes the logit's
 *     token; null for the graph's {@link AttributionGraph#targetLabel()}
 * @param targetTokenId the target token's vocabulary id, for the logit node's id; null when not known (a logit
 *     difference), then -1 is written
 * @param targetProb the logit node's {@code token_prob}; null means 1.0 (the single target carries all the weight)
 * @param nodeThreshold the pruning's node threshold, in [0, 1]
 * @param edgeThreshold the pruning's edge threshold, in [0, 1]
 * @param scores the graph's faithfulness scores, or null when not computed
 */
public record GraphExport(String slug, String scan, String prompt, List<String> promptTokens, List<Integer> tokenIds,
    List<String> genes, String targetLabel, Integer targetTokenId, Double targetProb, double nodeThreshold,
    double edgeThreshold, GraphScores scores) {

  public GraphExport {
    if (slug == null || slug.isBlank()) {
      throw new IllegalArgumentException("graph export needs a slug");
    }
    if (scan == null || scan.isBlank()) {
      throw new IllegalArgumentException("graph export needs a scan (the model name)");
    }
    if (prompt == null) {
      throw new IllegalArgumentException("graph export needs the prompt");
    }
    if (promptTokens == null || promptTokens.stream().anyMatch(Objects::isNull)) {
      throw new IllegalArgumentException("graph export needs the prompt tokens, none of them null");
    }
    promptTokens = List.copyOf(promptTokens);
    if (tokenIds != null) {
      if (tokenIds.stream().anyMatch(Objects::isNull) || tokenIds.size() != promptTokens.size()) {
        throw new IllegalArgumentException(String.format(
            "token ids must be one non-null id per prompt token: %d ids for %d tokens", tokenIds.size(),
            promptTokens.size()));
      }
      tokenIds = List.copyOf(tokenIds);
    }
    if (genes != null) {
      if (genes.size() != promptTokens.size()) {
        throw new IllegalArgumentException(String.format(
            "genes must be one entry (null for non-gene tokens) per prompt token: %d entries for %d tokens",
            genes.size(), promptTokens.size()));
      }
      for (int i = 0; i < genes.size(); i++) {
        if (genes.get(i) != null && genes.get(i).isBlank()) {
          throw new IllegalArgumentException("gene at position " + i + " is blank; use null for non-gene tokens");
        }
      }
      genes = Collections.unmodifiableList(new ArrayList<>(genes));
    }
    if (targetProb == null) {
      targetProb = 1.0;
    }
    if (!(targetProb >= 0 && targetProb <= 1)) {
      throw new IllegalArgumentException("target probability must be in [0, 1]; got " + targetProb);
    }
    checkThreshold("node", nodeThreshold);
    checkThreshold("edge", edgeThreshold);
  }

  /** The fields the brief of the export asks for; token ids unknown, target probability 1. */
  public static GraphExport of(String slug, String scan, String prompt, List<String> promptTokens, List<String> genes,
      String targetLabel, double nodeThreshold, double edgeThreshold, GraphScores scores) {
    return new GraphExport(slug, scan, prompt, promptTokens, null, genes, targetLabel, null, null, nodeThreshold,
        edgeThreshold, scores);
  }

  private static void checkThreshold(String which, double t) {
    // circuit-tracer's prune_graph raises on thresholds outside [0, 1]
    if (!(t >= 0 && t <= 1)) {
      throw new IllegalArgumentException(which + " threshold must be in [0, 1]; got " + t);
    }
  }

  /**
   * Per position, the gene label for people: {@code "VWF (rank 3)"}, where the rank is the gene's place among the
   * prompt's genes in prompt order (1 = first; in a cell sentence, genes come by decreasing expression); null for
   * tokens outside gene symbols. Consecutive positions with the same symbol share one label.
   */
  public List<String> geneLabels() {
    List<String> labels = new ArrayList<>(Collections.nCopies(promptTokens.size(), (String) null));
    if (genes == null) {
      return labels;
    }
    int rank = 0;
    for (int i = 0; i < genes.size(); i++) {
      String gene = genes.get(i);
      if (gene == null) {
        continue;
      }
      if (i == 0 || !gene.equals(genes.get(i - 1))) {
        rank++;
      }
      labels.set(i, gene + " (rank " + rank + ")");
    }
    return labels;
  }
}
