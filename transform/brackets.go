package transform

// addBrackets encloses each record in { and }, as the Kinesis Agent's
// ADDBRACKETS processor does: the record a b becomes {a b}. The record is
// not parsed or checked, so a raw line becomes text in braces, not JSON;
// consumers built for the agent strip the braces.
//
// The agent's brackets also enclose the newline its records end with
// ({a b\n}); kinetail's records carry no newline, so nothing is inside
// the braces but the record.
type addBrackets struct{}

func (addBrackets) Append(dst, in []byte) ([]byte, error) {
	dst = append(dst, '{')
	dst = append(dst, in...)
	return append(dst, '}'), nil
}
