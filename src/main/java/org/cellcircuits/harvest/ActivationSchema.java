package org.cellcircuits.harvest;

import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.parquet.schema.LogicalTypeAnnotation;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.PrimitiveType.PrimitiveTypeName;
import org.apache.parquet.schema.Types;

/**
 * The Parquet layout of {@code activations/layer=L/}: one row per stored token of one cell.
 *
 * <pre>
 *   cell_id      string   required   the sentences table's cell id
 *   pos          int32    required   token position in the prompt (0 = first token)
 *   token_id     int32    required   vocabulary id of the token
 *   gene_symbol  string   optional   the gene the token spells; null for template text and punctuation
 *   gene_rank    int32    optional   that gene's position in the cell sentence (0 = highest expression); null likewise
 *   mlp_in       binary   required   blocks.L.ln2.hook_normalized at this token: d_model little-endian fp16/bf16
 *   mlp_out      binary   required   blocks.L.hook_mlp_out at this token: same encoding
 * </pre>
 *
 * The vectors are Parquet {@code FIXED_LEN_BYTE_ARRAY(2·d_model)}: Spark reads them as {@code binary}, and the fixed
 * width both saves the 4-byte length prefix per value and makes a vector of another width unwritable. Dictionary
 * encoding is off for them (activations never repeat; a dictionary would only be built and thrown away).
 *
 * <p>Each file's key-value metadata holds {@value #META_D_MODEL}, {@value #META_FORMAT} and {@value #META_LAYER}, so
 * a file read on its own still says how to decode it.
 */
public final class ActivationSchema {
  private ActivationSchema() {}

  private static final Pattern LAYER_TABLE = Pattern.compile("activations/layer=(\\d+)");

  public static final String CELL_ID = "cell_id";
  public static final String POS = "pos";
  public static final String TOKEN_ID = "token_id";
  public static final String GENE_SYMBOL = "gene_symbol";
  public static final String GENE_RANK = "gene_rank";
  public static final String MLP_IN = "mlp_in";
  public static final String MLP_OUT = "mlp_out";

  /** Key-value metadata: the vector width. */
  public static final String META_D_MODEL = "cellcircuits.d_model";
  /** Key-value metadata: {@code fp16} or {@code bf16}. */
  public static final String META_FORMAT = "cellcircuits.vector_format";
  /** Key-value metadata: the block index. */
  public static final String META_LAYER = "cellcircuits.layer";

  /** The full schema for vectors of width {@code dModel}. */
  public static MessageType schema(int dModel) {
    int width = VectorFormat.BYTES_PER_VALUE * dModel;
    return Types.buildMessage()
        .required(PrimitiveTypeName.BINARY).as(LogicalTypeAnnotation.stringType()).named(CELL_ID)
        .required(PrimitiveTypeName.INT32).named(POS)
        .required(PrimitiveTypeName.INT32).named(TOKEN_ID)
        .optional(PrimitiveTypeName.BINARY).as(LogicalTypeAnnotation.stringType()).named(GENE_SYMBOL)
        .optional(PrimitiveTypeName.INT32).named(GENE_RANK)
        .required(PrimitiveTypeName.FIXED_LEN_BYTE_ARRAY).length(width).named(MLP_IN)
        .required(PrimitiveTypeName.FIXED_LEN_BYTE_ARRAY).length(width).named(MLP_OUT)
        .named("activation");
  }

  /** Only the two vector columns: what a transcoder trainer reads. */
  public static MessageType vectorsOnly(int dModel) {
    int width = VectorFormat.BYTES_PER_VALUE * dModel;
    return Types.buildMessage()
        .required(PrimitiveTypeName.FIXED_LEN_BYTE_ARRAY).length(width).named(MLP_IN)
        .required(PrimitiveTypeName.FIXED_LEN_BYTE_ARRAY).length(width).named(MLP_OUT)
        .named("activation");
  }

  /** Folder of one layer under the activations table: {@code layer=L}. */
  public static String layerFolder(int layer) {
    return "layer=" + layer;
  }

  /** Table name of one layer as the stage marker lists it: {@code activations/layer=L}. */
  public static String layerTable(int layer) {
    return "activations/" + layerFolder(layer);
  }

  /** The layer of a table named by {@link #layerTable}, or null for any other table. */
  public static Integer layerOfTable(String table) {
    Matcher m = LAYER_TABLE.matcher(table);
    return m.matches() ? Integer.valueOf(m.group(1)) : null;
  }
}
