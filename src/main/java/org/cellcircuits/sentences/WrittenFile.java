package org.cellcircuits.sentences;

import java.io.Serializable;

/**
 * What a build task reports for one Parquet file it wrote ({@link SentenceFiles}): the driver keeps only reported
 * files and checks the end state against the next range's start.
 *
 * @param partition the range's index
 * @param name the file's name in the output folder
 * @param rows rows written
 * @param endState c2s generator state the range ended at (null in gene-order mode)
 */
record WrittenFile(int partition, String name, long rows, NumpyRandomState.State endState) implements Serializable {
}
