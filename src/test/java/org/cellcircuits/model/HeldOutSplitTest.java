package org.cellcircuits.model;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class HeldOutSplitTest {

    static List<AnswerExample> examples() {
        List<AnswerExample> out = new ArrayList<>();
        String[] labels = {"fibroblast", "mast cell", "neuronal cell"};
        int[] counts = {250, 12, 2};
        for (int l = 0; l < labels.length; l++) {
            for (int i = 0; i < counts[l]; i++) {
                out.add(AnswerExample.cellType(labels[l] + "_" + i, "prompt " + i + ":", labels[l]));
            }
        }
        return out;
    }

    @Test
    void eachLabelHoldsOutItsShareAndRareLabelsKeepOneForEachSide() {
        HeldOutSplit split = HeldOutSplit.byLabel(examples(), 0.1, 42);
        Map<String, Long> held = split.heldOut().stream().collect(Collectors.groupingBy(AnswerExample::label, Collectors.counting()));
        assertThat(held).containsEntry("fibroblast", 25L).containsEntry("mast cell", 1L).containsEntry("neuronal cell", 1L);
        assertThat(split.train()).hasSize(264 - 27);
        Set<String> ids = new HashSet<>();
        split.train().forEach(e -> ids.add(e.id()));
        split.heldOut().forEach(e -> assertThat(ids.add(e.id())).as("%s on both sides", e.id()).isTrue());
        assertThat(ids).hasSize(264);
    }

    @Test
    void theSplitDependsOnlyOnTheSeed() {
        List<String> a = HeldOutSplit.byLabel(examples(), 0.1, 42).heldOut().stream().map(AnswerExample::id).toList();
        List<String> b = HeldOutSplit.byLabel(examples(), 0.1, 42).heldOut().stream().map(AnswerExample::id).toList();
        List<String> c = HeldOutSplit.byLabel(examples(), 0.1, 43).heldOut().stream().map(AnswerExample::id).toList();
        assertThat(a).isEqualTo(b).isNotEqualTo(c);
    }

    @Test
    void cellTypeAnswersAreC2sResponses() {
        AnswerExample e = AnswerExample.cellType("c1", "... is:", "endothelial cell");
        assertThat(e.answer()).isEqualTo(" endothelial cell.");
        assertThat(e.label()).isEqualTo("endothelial cell");
    }
}
