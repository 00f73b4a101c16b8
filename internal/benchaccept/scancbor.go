package benchaccept

import "bytes"

var keyRecords = []byte("Records")

// scanCBOR reads a PutRecords body of the Kinesis CBOR protocol:
//
//	{"StreamName": text, "Records": [{"Data": bytes, "PartitionKey": text,
//	 "ExplicitHashKey": text}, ...]}
//
// (or "StreamARN"), in definite or indefinite lengths. Keys it does not
// know are skipped, whatever their values.
func (s *scanner) scanCBOR(b []byte) (putRecords, error) {
	s.reset()
	var p putRecords
	d := &cborDecoder{b: b}
	major, arg, indef, err := d.head()
	if err != nil || major != cborMap {
		return p, errSyntax
	}
	n, err := d.container(major, arg, indef)
	if err != nil {
		return p, errSyntax
	}
	for {
		ok, err := d.more(&n, indef)
		if err != nil {
			return p, errSyntax
		}
		if !ok {
			break
		}
		// The scratch buffer holds an indefinite key only until the next
		// key: values that must outlive it are definite or copied.
		key, scratch, err := d.text(s.scratch[:0])
		s.scratch = scratch
		if err != nil {
			return p, errSyntax
		}
		if ok, err := d.more(&n, indef); err != nil || !ok {
			return p, errSyntax // a key without a value
		}
		switch {
		case bytes.Equal(key, keyStreamName), bytes.Equal(key, keyStreamARN) && p.stream == nil:
			// A definite name points into b; an indefinite one gets its
			// own buffer.
			v, _, err := d.text(nil)
			if err != nil {
				return p, errSyntax
			}
			p.stream = v
		case bytes.Equal(key, keyRecords):
			if err := s.cborRecords(d, &p); err != nil {
				return p, err
			}
		default:
			if err := d.skip(1); err != nil {
				return p, errSyntax
			}
		}
	}
	if d.i != len(b) {
		return p, errSyntax // something after the body's map
	}
	return p, nil
}

// cborRecords reads the Records array.
func (s *scanner) cborRecords(d *cborDecoder, p *putRecords) error {
	major, arg, indef, err := d.head()
	if err != nil || major != cborArray {
		return errSyntax
	}
	n, err := d.container(major, arg, indef)
	if err != nil {
		return errSyntax
	}
	for {
		ok, err := d.more(&n, indef)
		if err != nil {
			return errSyntax
		}
		if !ok {
			return nil
		}
		if err := s.cborRecord(d, p); err != nil {
			return err
		}
	}
}

// cborRecord reads one map of Records.
func (s *scanner) cborRecord(d *cborDecoder, p *putRecords) error {
	major, arg, indef, err := d.head()
	if err != nil || major != cborMap {
		return errSyntax
	}
	n, err := d.container(major, arg, indef)
	if err != nil {
		return errSyntax
	}
	dataLen, keyLen := -1, -1
	for {
		ok, err := d.more(&n, indef)
		if err != nil {
			return errSyntax
		}
		if !ok {
			break
		}
		key, scratch, err := d.text(s.scratch[:0])
		s.scratch = scratch
		if err != nil {
			return errSyntax
		}
		if ok, err := d.more(&n, indef); err != nil || !ok {
			return errSyntax
		}
		switch {
		case bytes.Equal(key, keyData):
			if dataLen >= 0 {
				return errSyntax
			}
			vm, varg, vindef, err := d.head()
			if err != nil || vm != cborBytes {
				return errSyntax
			}
			v, scratch, err := d.str(vm, varg, vindef, s.scratch[:0])
			s.scratch = scratch
			if err != nil {
				return errSyntax
			}
			dataLen = len(v)
			s.data(v)
		case bytes.Equal(key, keyPartitionKey):
			if keyLen >= 0 {
				return errSyntax
			}
			v, scratch, err := d.text(s.scratch[:0])
			s.scratch = scratch
			if err != nil {
				return errSyntax
			}
			keyLen = len(v)
		default: // ExplicitHashKey, and whatever else may come
			if err := d.skip(1); err != nil {
				return errSyntax
			}
		}
	}
	if dataLen < 0 || keyLen < 0 {
		return errSyntax // a record without data or without a key
	}
	s.finish(p, dataLen, keyLen)
	return nil
}
