// The methods binarize() knows, by name: the imaging room owns them, and the queue messages,
// the API's schemas and the CLI take their lists from here.

export const BINARIZATION_METHODS = ["auto", "document", "otsu", "sauvola", "fixed"] as const;
export type BinarizationMethod = (typeof BINARIZATION_METHODS)[number];
/** What made a result's pixels: the methods `auto` chooses between, and the others. */
export const APPLIED_METHODS = ["document", "otsu", "sauvola", "fixed"] as const;
export type AppliedMethod = (typeof APPLIED_METHODS)[number];
/** `fixed` without a threshold: 127 reproduces the original OpenCV pipeline pixel for pixel. */
export const DEFAULT_FIXED_THRESHOLD = 127;

/** Levelling a skewed page: when the estimate is sure of one (`auto`), or never. */
export const DESKEW_MODES = ["auto", "off"] as const;
export type DeskewMode = (typeof DESKEW_MODES)[number];
/** The dark frame around a page: left as it is, made white, or cut away with the page kept. */
export const BORDER_MODES = ["keep", "clean", "crop"] as const;
export type BorderMode = (typeof BORDER_MODES)[number];
