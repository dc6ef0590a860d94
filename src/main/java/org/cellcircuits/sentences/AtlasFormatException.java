package org.cellcircuits.sentences;

import java.io.IOException;

/**
 * An atlas that cannot be read as asked: a missing file, a file of the wrong kind, a missing field, or counts that
 * are not counts. The message always names the file, the field and what was expected, so that a user can fix the
 * input (or the config) without reading code.
 */
public final class AtlasFormatException extends IOException {

  public AtlasFormatException(String message) {
    super(message);
  }

  public AtlasFormatException(String message, Throwable cause) {
    super(message, cause);
  }

  /** "{file}: {field}: {problem}; expected {expected}". */
  public static AtlasFormatException of(String file, String field, String problem, String expected) {
    return new AtlasFormatException(String.format("atlas %s: %s: %s; expected %s", file, field, problem, expected));
  }
}
