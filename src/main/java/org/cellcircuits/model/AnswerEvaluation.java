package org.cellcircuits.model;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Greedy answers to a set of examples and how many match their labels, overall and per label.
 *
 * @param examples what was asked
 * @param predictions the model's greedy answer to each, in the same order
 */
public record AnswerEvaluation(List<AnswerExample> examples, List<Prediction> predictions) {

    public AnswerEvaluation {
        if (examples.size() != predictions.size()) {
            throw new IllegalArgumentException(String.format("%d examples but %d predictions", examples.size(), predictions.size()));
        }
        examples = List.copyOf(examples);
        predictions = List.copyOf(predictions);
    }

    /** Correct and total answers of one label. */
    public record LabelAccuracy(String label, int correct, int total) {
        public double accuracy() {
            return total == 0 ? Double.NaN : (double) correct / total;
        }
    }

    /** Asks the model for a greedy answer to every example (decoding stops at '.', newline or end-of-text). */
    public static AnswerEvaluation run(CellTypePredictor predictor, List<AnswerExample> examples) {
        List<String> prompts = new ArrayList<>(examples.size());
        for (AnswerExample e : examples) {
            prompts.add(e.prompt());
        }
        return new AnswerEvaluation(examples, predictor.predict(prompts));
    }

    public boolean isCorrect(int i) {
        return predictions.get(i).answer().equals(examples.get(i).label());
    }

    public int correct() {
        int c = 0;
        for (int i = 0; i < examples.size(); i++) {
            c += isCorrect(i) ? 1 : 0;
        }
        return c;
    }

    /** Share of examples answered with exactly their label; NaN for none. */
    public double accuracy() {
        return examples.isEmpty() ? Double.NaN : (double) correct() / examples.size();
    }

    /** Accuracy per label, labels in alphabetical order. */
    public List<LabelAccuracy> perLabel() {
        Map<String, int[]> counts = new TreeMap<>();
        for (int i = 0; i < examples.size(); i++) {
            int[] c = counts.computeIfAbsent(examples.get(i).label(), l -> new int[2]);
            c[0] += isCorrect(i) ? 1 : 0;
            c[1]++;
        }
        List<LabelAccuracy> out = new ArrayList<>();
        counts.forEach((label, c) -> out.add(new LabelAccuracy(label, c[0], c[1])));
        return out;
    }

    /** A table for logs: overall accuracy, then one line per label. */
    public String summary() {
        StringBuilder sb = new StringBuilder(String.format("held-out accuracy %.4f (%d / %d)%n", accuracy(), correct(), examples.size()));
        for (LabelAccuracy a : perLabel()) {
            sb.append(String.format("  %-28s %.4f (%d / %d)%n", a.label(), a.accuracy(), a.correct(), a.total()));
        }
        return sb.toString();
    }
}
