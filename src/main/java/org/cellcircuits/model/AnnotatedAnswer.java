package org.cellcircuits.model;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import java.util.Arrays;

/**
 * A cell's annotated answer {@code " {cell_type}."}, tokenized as {@link org.cellcircuits.model.CellTypePredictor}
 * tokenizes answers (apart from the prompt, without special tokens), and whether "the teacher-forced argmax is the
 * annotated token at every answer position" means greedy decoding returns exactly this cell type. That holds when
 * decoding stops at '.', the type holds no '.' or newline and no surrounding space, the tokens decode back to the
 * answer with no stop before the last one, and they fit in max-new-tokens. The harvest's predictions and the
 * evaluate stage's accuracy both rest on this rule.
 *
 * @param ids the answer's tokens; empty without an annotation
 * @param greedyEquivalent whether following the annotation teacher-forced equals greedy decoding it
 */
public record AnnotatedAnswer(long[] ids, boolean greedyEquivalent) {
  /** No annotated cell type: nothing to score. */
  public static final AnnotatedAnswer NONE = new AnnotatedAnswer(new long[0], false);

  public static AnnotatedAnswer of(String type, HuggingFaceTokenizer tok, PredictOptions options, long eosId) {
    String text = CellPrompt.answer(type);
    long[] ids = tok.encode(text, false, false).getIds();
    boolean ok = options.stopAtPeriod() && !type.isEmpty() && type.equals(type.strip())
        && type.indexOf('.') < 0 && type.indexOf('\n') < 0 && ids.length > 0 && ids.length <= options.maxNewTokens()
        && tok.decode(ids, true).equals(text);
    for (int k = 1; ok && k < ids.length; k++) {
      String prefix = tok.decode(Arrays.copyOf(ids, k), true);
      ok = prefix.indexOf('.') < 0 && prefix.indexOf('\n') < 0 && ids[k - 1] != eosId;
    }
    return new AnnotatedAnswer(ids, ok && ids[ids.length - 1] != eosId);
  }
}
