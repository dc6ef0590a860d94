package org.cellcircuits.sentences;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.Test;

/** The check a later stage makes of the sentences table it reads, against {@link SentencesJob#SCHEMA}; no Spark. */
class SentencesSchemaTest {
  @Test
  void theStagesOwnSchemaPassesAndSoDoesANullableCopyWithExtraColumns() {
    assertThatCode(() -> SentencesJob.checkSchema(SentencesJob.SCHEMA, "s")).doesNotThrowAnyException();
    StructType relaxed = new StructType()
        .add("prompt", DataTypes.StringType, true)
        .add("extra", DataTypes.IntegerType, true)
        .add("genes", DataTypes.createArrayType(DataTypes.StringType, true), true)
        .add("cell_type", DataTypes.StringType, true)
        .add("cell_id", DataTypes.StringType, true);
    assertThatCode(() -> SentencesJob.checkSchema(relaxed, "s")).doesNotThrowAnyException();
  }

  @Test
  void aMissingOrMistypedColumnIsNamedWithTheTable() {
    StructType noPrompt = new StructType().add("cell_id", DataTypes.StringType).add("cell_type", DataTypes.StringType)
        .add("genes", DataTypes.createArrayType(DataTypes.StringType));
    assertThatThrownBy(() -> SentencesJob.checkSchema(noPrompt, "runs/x/sentences"))
        .hasMessage("sentences table runs/x/sentences has no column prompt (string); its columns are cell_id, "
            + "cell_type, genes. Was it written by the sentences stage of this version?");
    StructType intGenes = noPrompt.add("prompt", DataTypes.StringType);
    StructType wrong = new StructType(new StructField[] {intGenes.fields()[0],
        intGenes.fields()[1], DataTypes.createStructField("genes", DataTypes.createArrayType(DataTypes.IntegerType),
        true), intGenes.fields()[3]});
    assertThatThrownBy(() -> SentencesJob.checkSchema(wrong, "t"))
        .hasMessage("sentences table t: column genes is array<int>; expected array<string>");
  }
}
