package testutil

// Photo returns a photo message update from user in their private chat;
// with album set, one item of that media group (media_group_id).
func Photo(user int64, album string) map[string]any {
	u := Message(user, user, "private", "")
	m := u["message"].(map[string]any)
	delete(m, "text")
	m["photo"] = []map[string]any{{"file_id": "f", "file_unique_id": "u", "width": 90, "height": 90}}
	if album != "" {
		m["media_group_id"] = album
	}
	return u
}
