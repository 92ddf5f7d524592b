import { render } from 'preact';
import { AdminApp } from './admin-app.view.js';
import './admin.styles.css';

render(<AdminApp />, document.getElementById('root')!);
