package org.cellcircuits.jobs;

/** The configuration the user gave is unusable: the message names the key or file and what was expected. */
public final class BadConfigException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  public BadConfigException(String message) {
    super(message);
  }

  public BadConfigException(String message, Throwable cause) {
    super(message, cause);
  }
}
