package org.cellcircuits.model;

/**
 * Token ids of one example as the loss sees it: the model reads {@code prompt + answer[0 .. n-2]} and is scored on
 * predicting every answer token, each from the tokens before it.
 *
 * @param prompt prompt ids (at least 1)
 * @param answer answer ids, with the end-of-text id last when the trainer appends it (at least 1)
 */
public record AnswerTokens(long[] prompt, long[] answer) {

    public AnswerTokens {
        if (prompt.length == 0 || answer.length == 0) {
            throw new IllegalArgumentException(String.format(
                    "example has %d prompt and %d answer tokens; need at least 1 of each", prompt.length, answer.length));
        }
        prompt = prompt.clone();
        answer = answer.clone();
    }

    /** The sequence the model reads: the prompt and every answer token but the last. */
    public long[] input() {
        long[] in = java.util.Arrays.copyOf(prompt, prompt.length + answer.length - 1);
        System.arraycopy(answer, 0, in, prompt.length, answer.length - 1);
        return in;
    }

    /** Length of {@link #input()}. */
    public int inputLength() {
        return prompt.length + answer.length - 1;
    }

    @Override
    public long[] prompt() {
        return prompt.clone();
    }

    @Override
    public long[] answer() {
        return answer.clone();
    }
}
