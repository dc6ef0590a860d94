/**
 * What a Spark task needs from the JVM it runs in, shared by the stages' Spark work: the device Spark assigned to the
 * task ({@link org.cellcircuits.runtime.TaskDevice}), a model checkpoint copied to local disk once per executor
 * ({@link org.cellcircuits.runtime.ModelFolder}) and held loaded once per executor ({@link
 * org.cellcircuits.runtime.ExecutorModels}, {@link org.cellcircuits.runtime.ExecutorTranscoders}), Hadoop file access
 * and staged local copies of remote atlases ({@link org.cellcircuits.runtime.HadoopFiles}, {@link
 * org.cellcircuits.runtime.StagedCopies}), and an RDD of explicit task inputs ({@link
 * org.cellcircuits.runtime.TaskListRdd}). With these here, {@code model} and the sentence logic import no Spark.
 */
package org.cellcircuits.runtime;
