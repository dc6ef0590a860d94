package org.cellcircuits.interpret;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.StringReader;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GmtReaderTest {

  private static GeneSets parse(String text) throws IOException {
    return GmtReader.read(new BufferedReader(new StringReader(text)), "sets.gmt");
  }

  @Test
  void readsNameDescriptionAndGenesPerLine(@TempDir Path tmp) throws IOException {
    Path file = Files.writeString(tmp.resolve("heart.gmt"),
        "ENDOTHELIAL\thttp://example.org/endo\tVWF\tPECAM1\tCDH5\t\t\n"
            + "\n"
            + "FIBROBLAST\t\tDCN\tLUM\tDCN\n");
    GeneSets sets = GmtReader.read(file);
    assertThat(sets.source()).isEqualTo(file.toString());
    assertThat(sets.sets()).extracting(GeneSet::name).containsExactly("ENDOTHELIAL", "FIBROBLAST");
    assertThat(sets.get("ENDOTHELIAL").description()).isEqualTo("http://example.org/endo");
    assertThat(sets.get("ENDOTHELIAL").genes()).as("trailing tabs are no genes").containsExactly("VWF", "PECAM1", "CDH5");
    assertThat(sets.get("FIBROBLAST").genes()).as("a repeat counts once").containsExactly("DCN", "LUM");
  }

  @Test
  void errorsNameTheFileAndLine() {
    assertThatThrownBy(() -> parse("A\tdesc\tVWF\nB\tonly a description\n"))
        .hasMessage("sets.gmt line 2: 2 tab-separated field(s); a GMT line is name<TAB>description<TAB>gene...");
    assertThatThrownBy(() -> parse("A VWF PECAM1\n"))
        .as("spaces are not tabs").hasMessageStartingWith("sets.gmt line 1: 1 tab-separated field(s)");
    assertThatThrownBy(() -> parse("\n\n\tdesc\tVWF\n")).hasMessage("sets.gmt line 3: the gene set name is empty");
    assertThatThrownBy(() -> parse("A\td\tVWF\nB\td\tDCN\nA\td\tKDR\n"))
        .hasMessage("sets.gmt line 3: gene set 'A' was already defined on line 1");
    assertThatThrownBy(() -> parse("A\td\t\t\n")).hasMessage("sets.gmt line 1: gene set 'A' lists no genes");
    assertThatThrownBy(() -> parse("\n")).hasMessage("sets.gmt holds no gene sets");
  }
}
