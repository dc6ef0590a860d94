/** The run root (local or s3a://), stage commit protocol, safetensors and JSON artifacts. */
package org.cellcircuits.io;
