package org.cellcircuits.interpret;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.BufferedReader;
import java.io.StringReader;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class MarkerTableReaderTest {

  @Test
  void theDemoMarkersAreOneSetPerCellType() {
    GeneSets sets = MarkerTableReader.read(Path.of("demo/markers.tsv"));
    assertThat(sets.sets()).extracting(GeneSet::name).hasSize(12)
        .startsWith("ventricular cardiomyocyte", "atrial cardiomyocyte")
        .contains("endothelial cell", "fibroblast", "mast cell");
    assertThat(sets.get("endothelial cell").genes()).contains("VWF", "PECAM1").hasSize(10);
    assertThat(sets.get("ventricular cardiomyocyte").genes()).startsWith("MYH7", "MYL2").hasSize(12);
    // TTN marks both cardiomyocyte types: sets may share genes.
    assertThat(sets.get("atrial cardiomyocyte").genes()).contains("TTN");
  }

  @Test
  void columnsAreFoundByHeaderAndErrorsNameTheLine() throws Exception {
    GeneSets swapped = MarkerTableReader.read(new BufferedReader(new StringReader(
        "gene\tcell_type\nVWF\tendothelial cell\nDCN\tfibroblast\n")), "m.tsv");
    assertThat(swapped.get("fibroblast").genes()).containsExactly("DCN");
    assertThatThrownBy(() -> MarkerTableReader.read(new BufferedReader(new StringReader(
        "type\tgene\nendo\tVWF\n")), "m.tsv")).hasMessageStartingWith("m.tsv line 1: header [type, gene] lacks");
    assertThatThrownBy(() -> MarkerTableReader.read(new BufferedReader(new StringReader(
        "cell_type\tgene\tweight\nendo\tVWF\t1\nendo\n")), "m.tsv"))
        .hasMessage("m.tsv line 3: 1 field(s); the header puts cell_type and gene in columns 1 and 2");
    assertThatThrownBy(() -> MarkerTableReader.read(new BufferedReader(new StringReader(
        "cell_type\tgene\nendo\t \n")), "m.tsv")).hasMessage("m.tsv line 2: empty gene");
    assertThatThrownBy(() -> MarkerTableReader.read(new BufferedReader(new StringReader("")), "m.tsv"))
        .hasMessageStartingWith("m.tsv is empty");
  }
}
